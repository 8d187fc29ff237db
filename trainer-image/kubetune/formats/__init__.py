"""Dataset formats, shared by the trainer and the REST facade; never imports torch.

Parse a file with ``read_records(path, format)`` (bad lines raise
``DatasetError`` naming file and line), render chat examples under a data
strategy with ``render(...)``, and export with ``format_lines`` /
``format_file`` (file names from ``output_file_name``).
"""

from kubetune.formats.errors import DatasetError
from kubetune.formats.readers import PARSERS, iter_records, read_records
from kubetune.formats.records import (
    ChatExample,
    ClassificationExample,
    Example,
    ImageExample,
    Message,
    PreferenceExample,
    Rendered,
    ToolCall,
)
from kubetune.formats.strategies import (
    DEFAULT_SYSTEM_MESSAGE,
    DEFAULT_THINKING_INSTRUCTIONS,
    FINAL_ANSWER_PROMPT,
    STRATEGIES,
    render,
)
from kubetune.formats.writers import CHAT_WRITERS, format_file, format_lines, output_file_name

FORMATS: tuple[str, ...] = tuple(PARSERS)
CHAT_FORMATS: tuple[str, ...] = tuple(CHAT_WRITERS)

__all__ = [
    "CHAT_FORMATS",
    "DEFAULT_SYSTEM_MESSAGE",
    "DEFAULT_THINKING_INSTRUCTIONS",
    "FINAL_ANSWER_PROMPT",
    "FORMATS",
    "STRATEGIES",
    "ChatExample",
    "ClassificationExample",
    "DatasetError",
    "Example",
    "ImageExample",
    "Message",
    "PreferenceExample",
    "Rendered",
    "ToolCall",
    "format_file",
    "format_lines",
    "iter_records",
    "output_file_name",
    "read_records",
    "render",
]
