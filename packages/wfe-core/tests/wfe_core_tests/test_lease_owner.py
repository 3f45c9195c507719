"""Lease owners: tokens name their holder, and only a holder proven gone is superseded."""

from __future__ import annotations

import dataclasses

from wfe_core.lease_owner import LeaseOwner, TakeoverCheck
from wfe_core.models import new_id
from wfe_core.testing.takeover_suite import gone_process_owner, live_process_owner


def test_a_token_names_its_owner_even_with_separators_in_the_host_id() -> None:
    owner = LeaseOwner.of_this_process("web|0@eu:1 %")
    token = owner.token()
    assert LeaseOwner.from_token(token) == owner
    assert ":" not in token  # Valkey stores "<fence>:<token>" and splits at the first colon


def test_a_token_without_an_owner_is_never_taken_over() -> None:
    check = TakeoverCheck(LeaseOwner.of_this_process("pod-0"))
    assert LeaseOwner.from_token(new_id()) is None
    assert not check.gone(new_id())
    assert not check.gone("x@not|an|owner")


def test_only_holders_proven_gone_are_superseded() -> None:
    me = LeaseOwner.of_this_process()
    assert not me.supersedes(me)
    assert me.supersedes(gone_process_owner())
    assert not me.supersedes(live_process_owner())
    other_machine = dataclasses.replace(gone_process_owner(), hostname="elsewhere")
    assert not me.supersedes(other_machine)
    other_namespace = dataclasses.replace(gone_process_owner(), pid_namespace="pid:[1]")
    assert not me.supersedes(other_namespace)


def test_the_same_host_id_supersedes_its_predecessor_but_not_itself() -> None:
    me = LeaseOwner.of_this_process("pod-0")
    predecessor = dataclasses.replace(live_process_owner("pod-0"), hostname="node-2")
    assert me.supersedes(predecessor)
    assert not me.supersedes(dataclasses.replace(predecessor, host_id="pod-1"))
    assert not me.supersedes(LeaseOwner.of_this_process("pod-0"))
