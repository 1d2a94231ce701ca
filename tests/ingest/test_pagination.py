"""Pagination ends where it should and never spins."""

from __future__ import annotations

import pytest

from vodflow.ingest.pagination import Page, PaginationLoopError, Token, paginate


def pages(book: dict[Token, Page]):
    calls: list[Token] = []

    def fetch(token: Token) -> Page:
        calls.append(token)
        return book[token]

    return fetch, calls


def test_ends_on_missing_next_token() -> None:
    fetch, calls = pages({1: Page([{"id": 1}], 2), 2: Page([{"id": 2}], None)})
    result = paginate("p", fetch, 1)
    assert [i["id"] for i in result.items] == [1, 2] and calls == [1, 2] and result.pages == 2


def test_ends_on_empty_page() -> None:
    fetch, calls = pages({1: Page([{"id": 1}], 2), 2: Page([], 3)})
    assert len(paginate("p", fetch, 1).items) == 1 and calls == [1, 2]


def test_repeated_token_raises() -> None:
    fetch, _ = pages({1: Page([{"id": 1}], 2), 2: Page([{"id": 2}], 1)})
    with pytest.raises(PaginationLoopError, match="repeated"):
        paginate("p", fetch, 1)


def test_item_served_twice_is_kept_once_and_counted() -> None:
    fetch, _ = pages({1: Page([{"id": 1}, {"id": 2}], 2), 2: Page([{"id": 2}, {"id": 3}], None)})
    result = paginate("p", fetch, 1)
    assert [i["id"] for i in result.items] == [1, 2, 3] and result.repeated == 1
