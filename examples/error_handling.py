"""Worker pool with error handling: the article's Go program, ported onto gopool.

A port of "How to Implement Worker Pools in Go" by nawazdhandala
(https://www.github.com/nawazdhandala). Run it: ``python examples/error_handling.py``
(``--fast`` shrinks every sleep and interval twenty times). The code, line
for line beside the Go, is ``gopool/_examples/error_handling.py``: it ships inside the
package so that ``python -m gopool error_handling`` runs it from any install.
"""

import sys
from pathlib import Path

try:
    from gopool._examples import launch
except ModuleNotFoundError:  # a checkout where gopool is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from gopool._examples import launch

if __name__ == "__main__":
    launch("error_handling")
