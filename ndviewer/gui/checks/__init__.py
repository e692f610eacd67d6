"""The file-check report: findings of ``core.checks`` grouped by severity and object, and the
badges they put on the tree. The checking itself runs in the core, in a worker."""
