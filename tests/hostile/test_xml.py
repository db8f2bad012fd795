"""XML attacks (entity expansion, external entities) and bodies that feedparser would open or fetch itself."""

from __future__ import annotations


def test_billion_laughs_is_not_expanded(hostile):
    r = hostile.run("billion_laughs")
    assert r.elapsed < 2


def test_quadratic_blowup_is_not_expanded(hostile):
    r = hostile.run("quadratic_blowup")
    assert r.elapsed < 2


def test_quadratic_blowup_with_the_doctype_after_64_kb_of_whitespace(hostile):
    # The same 100 KB entity, but the DOCTYPE sits after 70 KB of (legal) whitespace.
    r = hostile.run("quadratic_blowup_after_64k")
    assert r.elapsed < 2


def test_external_entity_to_a_local_file_is_never_resolved(hostile):
    r = hostile.run("external_entity_file")
    assert r.articles[0]["url"] == "https://xxe.example/1"


def test_external_parameter_entity_is_never_resolved(hostile):
    hostile.run("external_parameter_entity")


def test_external_dtd_is_never_fetched(hostile):
    hostile.run("external_dtd_url")


def test_body_that_is_a_local_path_is_not_opened(hostile):
    r = hostile.run("body_is_local_path")
    assert r.articles == []


def test_body_that_is_a_file_url_is_not_opened(hostile):
    r = hostile.run("body_is_file_url")
    assert r.articles == []


def test_body_that_is_an_http_url_is_not_fetched(hostile):
    hostile.run("body_is_http_url")


def test_newlines_before_the_root_element_cost_no_time(hostile):
    # 25 KB of newlines between the XML declaration and <rss>: legal, and must not cost quadratic time.
    r = hostile.run("leading_newlines")
    assert r.elapsed < 2


def test_element_with_15000_attributes_costs_no_time(hostile):
    # 150 KB of attributes on one <item>: legal, and must not cost quadratic time.
    r = hostile.run("attribute_flood")
    assert r.elapsed < 2


def test_feed_that_takes_long_to_parse_is_stopped_at_the_deadline(hostile):
    # 1 MiB of empty <b/> elements: ~16 s of feedparser. The parse runs in a parser process, which is
    # killed when the feed's poll deadline (3 s here) comes; the other feed of the poll is stored.
    hostile.run("slow_to_parse")
