"""The search benchmark suite (METHOD.md §8): same as `hwnas bench`, e.g.

python benchmarks/suite.py --searchers random,rea,local --seeds 0-9 --queries 100,200
python benchmarks/suite.py --settings raspi4-16ms --searchers rea --seeds 0-1 --suite quick
"""

import sys

from hwnas.cli import main

if __name__ == "__main__":
    main(["bench", *sys.argv[1:]], prog_name="benchmarks/suite.py")
