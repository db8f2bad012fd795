"""Bodies that are not feeds, and feeds in odd or broken encodings."""

from __future__ import annotations


def test_html_page_instead_of_a_feed(hostile):
    hostile.run("html_page")


def test_empty_200(hostile):
    hostile.run("empty_200")


def test_json_error_page(hostile):
    hostile.run("json_error_page")


def test_feed_in_a_wrong_declared_encoding(hostile):
    # Declared UTF-8 (header and XML declaration), written in cp1252.
    hostile.run("wrong_declared_encoding")


def test_invalid_utf8(hostile):
    hostile.run("invalid_utf8")


def test_utf8_bom(hostile):
    hostile.run("utf8_bom")


def test_utf16_with_bom(hostile):
    hostile.run("utf16_bom")


def test_mixed_encodings_in_one_feed(hostile):
    hostile.run("mixed_encodings")


# Character references that name no character: a lenient reader stores the entries with the reference
# replaced, a strict one reports the feed as broken; either way the feed's poll ends cleanly and the other
# feed of the same poll is stored (until now an exception here took the whole poll down).


def test_lone_surrogate_character_reference(hostile):
    hostile.run("surrogate_char_ref")  # &#xD800;


def test_lone_surrogate_in_a_json_feed(hostile):
    hostile.run("surrogate_json_escape")  # "\ud800"


def test_character_reference_past_unicode(hostile):
    hostile.run("char_ref_out_of_range")  # &#x110000;


def test_character_reference_with_a_huge_number(hostile):
    hostile.run("char_ref_huge_number")  # &#99999999999;


def test_garbled_encoding_name_in_the_xml_declaration(hostile):
    hostile.run("garbled_encoding_declaration")  # encoding="utf\xcd8"
