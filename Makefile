# ndviewer — two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := resources/demo/demo.nwb

# Debian packages Qt needs to start (offscreen or under Xvfb), Xvfb itself for e2e tests, and
# the freedesktop tools the file-association tests check our .desktop and MIME files with.
SYSTEM_PACKAGES := xvfb xauth libegl1 libgl1 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0 \
	libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
	libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-xkb1 \
	libglib2.0-0 fonts-dejavu-core \
	desktop-file-utils libxml2-utils xdg-utils shared-mime-info libfile-mimeinfo-perl

.PHONY: run test fuzz bench lint sysdeps venv demo bundle bundle-check clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@# PySide6 compiles its embedded support modules at every start (~12 ms): unpack them once
	$(BIN)/python packaging/unpack_pyside_support.py >/dev/null || \
		echo "warning: PySide6's support modules stay embedded (start-up ~12 ms slower)"
	touch $(STAMP)

# Installs the missing Debian packages when we are root (CI, fresh machines); otherwise says
# which ones are missing and carries on (the tests that need them will tell).
sysdeps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing system packages: $$missing"; \
			apt-get update -qq; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || \
			for p in $$missing; do \
				DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$p >/dev/null \
					|| echo "warning: could not install $$p"; \
			done; \
		else \
			echo "warning: missing system packages (install them with apt-get): $$missing"; \
		fi; \
	fi

$(DEMO): $(STAMP) resources/demo/make_demo.py
	$(BIN)/python resources/demo/make_demo.py $(DEMO)

demo: $(DEMO)

run: sysdeps $(STAMP) $(DEMO)
	$(BIN)/ndviewer $(DEMO)

test: sysdeps $(STAMP)
	$(BIN)/ruff check ndviewer tests resources
	$(BIN)/ruff format --check ndviewer tests resources
	$(BIN)/lint-imports
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q -p no:cacheprovider

# The seeded corruption fuzz at full size (make test runs 14 cases of it): byte flips,
# truncations, deep spec JSON, link cycles, enormous shapes through info, edit and the window.
FUZZ_CASES ?= 350
fuzz: sysdeps $(STAMP)
	NDVIEWER_FUZZ_CASES=$(FUZZ_CASES) QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q \
		-p no:cacheprovider -s tests/gui/test_corruption_fuzz.py

# mkfs.xfs: bench_save measures the copy-on-write clone path on a loop-mounted XFS image (root).
BENCH_SYSTEM_PACKAGES := xfsprogs

bench: sysdeps $(STAMP)
	@$(MAKE) --no-print-directory sysdeps SYSTEM_PACKAGES="$(BENCH_SYSTEM_PACKAGES)"
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	QT_QPA_PLATFORM=offscreen $(BIN)/python tests/benchmarks/run_all.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check ndviewer tests resources
	$(BIN)/ruff format --check ndviewer tests resources
	$(BIN)/lint-imports

bundle: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bundle]'
	$(BIN)/pyinstaller --noconfirm --distpath dist --workpath build packaging/ndviewer.spec

# Build the bundle, smoke-test the built binary (demo, compressed data, a broken file, size)
# and print its size, start, hand-over and single-window figures.
bundle-check: sysdeps bundle $(DEMO)
	NDVIEWER_BUNDLE=dist/ndviewer/ndviewer QT_QPA_PLATFORM=offscreen \
		$(BIN)/python -m pytest -q -p no:cacheprovider tests/e2e/test_bundle.py
	QT_QPA_PLATFORM=offscreen $(BIN)/python tests/benchmarks/bench_bundle.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache $(DEMO)
