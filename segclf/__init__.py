"""segclf: label every paragraph of a news page as reported, quote, caption, boilerplate or opinion."""

__version__ = "0.1.0"

from segclf.documents import LABELS, Document, Paragraph  # noqa: E402
from segclf.errors import SegclfError  # noqa: E402

__all__ = ["LABELS", "Document", "Paragraph", "SegclfError", "__version__"]
