"""`python -m bot` runs the bot; `python -m bot profiles|calendar …` are the deployer's tools."""

import sys

from bot.cli import main

if __name__ == "__main__":
    sys.exit(main())
