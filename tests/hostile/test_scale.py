"""Feeds that are odd at scale: many entries, huge entries, repeated GUIDs, no identity, absurd dates and links."""

from __future__ import annotations

import pytest


@pytest.mark.slow
def test_feed_of_20000_entries(hostile):
    hostile.run("twenty_thousand_entries")


@pytest.mark.slow
def test_entry_of_5_mb(hostile):
    hostile.run("entry_of_5mb")


@pytest.mark.slow
def test_10000_entries_with_one_guid(hostile):
    hostile.run("same_guid_10k")


def test_entries_with_no_guid_and_no_link(hostile):
    r = hostile.run("no_guid_no_link")
    assert len({a["feed_guid"] for a in r.articles}) == 6


def test_dates_in_year_0_9999_and_garbage(hostile):
    hostile.run("absurd_dates")


def test_relative_and_javascript_links(hostile):
    hostile.run("relative_and_javascript_links")


def test_titles_of_100_kb(hostile):
    hostile.run("titles_of_100kb")
