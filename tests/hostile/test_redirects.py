"""Redirects that never end, leave HTTP, or go on too long."""

from __future__ import annotations


def test_redirect_loop_is_reported(hostile, farm):
    r = hostile.run("redirect_loop")
    ctx = farm.running["redirect_loop"].ctx
    assert ctx.hits("/feed.xml") == 1 and ctx.hits("/b.xml") == 1 and ctx.hits("/c.xml") == 1
    assert r.state["url"].endswith("/feed.xml")  # a loop with a 301 in it never moves the feed


def test_redirect_to_a_file_url_is_refused(hostile):
    r = hostile.run("redirect_to_file_scheme")
    assert r.articles == []


def test_redirect_to_ftp_after_a_permanent_hop_is_refused(hostile):
    r = hostile.run("redirect_to_ftp_scheme")
    assert r.state["url"].endswith("/feed.xml") and r.state["redirect_target"] is None


def test_too_many_redirects(hostile, farm):
    hostile.run("too_many_redirects")
    ctx = farm.running["too_many_redirects"].ctx
    assert ctx.hits("/r5.xml") == 1 and ctx.hits("/r6.xml") == 0  # 5 hops followed, the 6th refused
    assert ctx.hits("/r30.xml") == 0
