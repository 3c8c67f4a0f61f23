"""Access decided from facts as the kernel decides it (confirmed for real in integration)."""

from __future__ import annotations

from mxguard.access import READ, SEARCH, WRITE, effective, grant
from mxguard.facts import Account, AclEntry, PathFacts

ALICE = Account(name="alice", uid=1001, gid=1001, home="/", shell="", gids=(1001, 50))
OWNER = 2000


def path(
    mode: int, *, gid: int = 2000, acl: tuple[AclEntry, ...] = (), name: str = "/p/f"
) -> PathFacts:
    return PathFacts(path=name, kind="file", uid=OWNER, gid=gid, mode=mode, acl=acl)


def test_others_bits_apply_to_a_stranger() -> None:
    assert grant(ALICE, path(0o604)).perms == READ


def test_group_bits_apply_through_a_supplementary_group_and_others_are_not_consulted() -> None:
    # The kernel stops at the group class: rw for others does not help a group member.
    assert grant(ALICE, path(0o606, gid=50)).perms == 0


def test_a_named_user_entry_is_limited_by_the_mask() -> None:
    acl = (
        AclEntry(tag="user_obj", qualifier=None, perms=7),
        AclEntry(tag="user", qualifier=1001, perms=7),
        AclEntry(tag="group_obj", qualifier=None, perms=0),
        AclEntry(tag="mask", qualifier=None, perms=READ),
        AclEntry(tag="other", qualifier=None, perms=0),
    )
    found = grant(ALICE, path(0o640, acl=acl))
    assert found.perms == READ and found.via == "acl-user"


def test_named_group_entries_combine_and_block_others() -> None:
    acl = (
        AclEntry(tag="user_obj", qualifier=None, perms=7),
        AclEntry(tag="group_obj", qualifier=None, perms=0),
        AclEntry(tag="group", qualifier=50, perms=WRITE),
        AclEntry(tag="mask", qualifier=None, perms=7),
        AclEntry(tag="other", qualifier=None, perms=7),
    )
    assert grant(ALICE, path(0o707, acl=acl)).perms == WRITE


def test_a_folder_above_without_search_blocks_everything() -> None:
    index = {
        "/": PathFacts(path="/", kind="dir", uid=0, gid=0, mode=0o755),
        "/p": PathFacts(path="/p", kind="dir", uid=OWNER, gid=OWNER, mode=0o700),
    }
    assert effective(ALICE, path(0o666), index) == 0
    index["/p"] = PathFacts(path="/p", kind="dir", uid=OWNER, gid=OWNER, mode=0o701)
    assert effective(ALICE, path(0o666), index) == READ | WRITE
    assert SEARCH == 1


def test_an_unexamined_folder_above_makes_the_answer_unknown() -> None:
    assert effective(ALICE, path(0o666), {}) is None
