#!/usr/bin/env python3
"""Stand-in for Seattle's node manager in the DEMO base installers.

The demo bases built by this project carry no Seattle software. This file exists so the program
folder has the usual entry point; it only says what it is.
"""
import sys

if __name__ == "__main__":
    print("This is a demo base installer from the Seattle Custom Installer Builder project.")
    print("It contains no Seattle node manager; see demo_install.py for what it does show.")
    sys.exit(0)
