"""The knowledge base: documents (SEC filings, news, the team's primers) and their loaders.

``load_path`` turns a file or a folder into ``Document``s (see ``knowledge_base.loaders``
for the formats); ``clean_text`` is the sanitiser every loader applies.
"""

from knowledge_base.document import (
    META_FIELDS,
    Document,
    DocumentKind,
    LoadError,
    LoadReport,
    Section,
    SuppliedMeta,
    SuppliedMetaWarning,
    make_doc_id,
    sha256_bytes,
    supplied_conflicts,
    with_supplied,
)
from knowledge_base.loaders import (
    SUPPORTED_SUFFIXES,
    load_file,
    load_path,
    loadable_files,
    supplied_meta,
)
from knowledge_base.sanitize import clean_line, clean_text

__all__ = [
    "META_FIELDS",
    "SUPPORTED_SUFFIXES",
    "Document",
    "DocumentKind",
    "LoadError",
    "LoadReport",
    "Section",
    "SuppliedMeta",
    "SuppliedMetaWarning",
    "clean_line",
    "clean_text",
    "load_file",
    "load_path",
    "loadable_files",
    "make_doc_id",
    "sha256_bytes",
    "supplied_conflicts",
    "supplied_meta",
    "with_supplied",
]
