"""The one exception type users see: a one-line message naming the file, line or record at fault."""


class SegclfError(Exception):
    """Bad input, a bad model file or a failed run; the CLI prints str(error) and exits non-zero."""
