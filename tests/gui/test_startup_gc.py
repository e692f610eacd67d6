"""The garbage collector is paused while the window starts and back once the tree is shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import gc, json, sys
    import ndviewer.gui.app as app

    seen = {"at_start": gc.isenabled()}
    original_resume = app.StartupGc.resume

    def resume(self):
        if "resumed" not in seen:
            seen["resumed"] = {"was_enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
        original_resume(self)

    app.StartupGc.resume = resume
    status = app.run([sys.argv[1]], screenshot=sys.argv[2])
    seen["at_exit"] = gc.isenabled()
    print(json.dumps(seen))
    sys.exit(status)
    """
)


def test_collector_paused_during_start_and_back_after_the_tree(demo_file, tmp_path):
    env = dict(os.environ, NDVIEWER_SCREENSHOT_DELAY_MS="1500", QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(demo_file), str(tmp_path / "shot.png")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["at_start"] is True
    # resumed ~0.5 s after the tree was shown, before the screenshot 1.5 s after it
    assert seen["resumed"]["was_enabled"] is False
    assert seen["resumed"]["frozen"] > 10_000  # the modules, classes and window of start-up
    assert seen["at_exit"] is True
    assert (tmp_path / "shot.png").stat().st_size > 10_000
