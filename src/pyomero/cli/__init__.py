"""The ``pyomero`` command line."""
