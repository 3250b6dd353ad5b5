"""``python -m dbscale.cli``: the same as the ``dbscale`` console script."""

from . import main

main()
