"""nlm-grader: grade neural-language-model assignments safely, fairly and fast.

The package is a library first; :mod:`grader.cli` is a thin Click layer over it.
"""

__version__ = "0.1.0"
