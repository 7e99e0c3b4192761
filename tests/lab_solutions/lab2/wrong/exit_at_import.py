"""Misbehaviour at import (issue 17): the file ends its process with SystemExit(0)
while loading. The grade fails with what happened, not exit 0 in silence."""

raise SystemExit(0)
