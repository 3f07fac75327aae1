"""Reading a news web page: its main text and metadata, extracted with trafilatura.

Its own module so that trafilatura (with the HTML and date parsers it brings, about a quarter of
a second to import) loads only when an .html file is read: serving questions never imports it.
"""

from __future__ import annotations

import trafilatura
from trafilatura.settings import set_date_params

from retrieval.errors import ArticleError
from retrieval.ingest.formats import clean_text, meta_date, meta_text, split_title
from retrieval.types import Article


def read_html(text: str, relpath: str) -> Article:
    """The main text of a web page, without navigation or boilerplate, with its title, URL,
    site name and publication date when the page states them."""
    try:
        document = trafilatura.bare_extraction(
            text,
            include_comments=False,
            include_tables=False,
            favor_precision=True,
            with_metadata=True,
            # No extensive search: it takes dates mentioned in the story ("on 1 May 2019") for
            # the publication date; a date stays unknown rather than guessed.
            date_extraction_params=set_date_params(extensive=False),
            # Navigation is never the story; left in, the fallback extractors take the links of
            # a page with no main text ("Home News") for its text.
            prune_xpath="//nav",
        )
    except Exception as error:  # a third-party parser on arbitrary markup
        raise ArticleError(f"The HTML cannot be parsed: {error}") from None
    extracted = None if document is None else getattr(document, "text", None)
    body = clean_text(extracted).strip() if isinstance(extracted, str) else ""
    if not body:
        raise ArticleError("No main text found in HTML.")
    # The page's <h1> repeats its title atop the text: shown as the title, never quoted.
    title, start = split_title(body, meta_text(getattr(document, "title", None)))
    return Article(
        id=relpath,
        title=title,
        text=body,
        body_start=start,
        path=relpath,
        url=meta_text(getattr(document, "url", None)),
        published=meta_date(getattr(document, "date", None)),
        source=meta_text(getattr(document, "sitename", None)),
    )
