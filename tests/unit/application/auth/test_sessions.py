"""Sessions on the fakes: the revocation list refilled after a restart, refresh refused for a disabled user,
pruning, and what an API key may not do with a session's routes."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from uuid import UUID

import pytest

from adapters.auth.revocations import LocalRevokedSessions
from adapters.memory.tenant_scope import RecordingTenantScope
from application.auth.authenticate import StillSignedIn
from application.auth.sessions import Logout, PruneSessions, Refresh, RememberRevokedSessions, Sessions
from application.users.admin import ChangePassword, DeleteUser
from application.users.register import NewUser, RegisterUser
from domain.access import ApiKey, Scope
from domain.auth import Principal
from domain.errors import AuthenticationFailed, DependencyUnavailable, PermissionDenied
from domain.ids import new_id
from domain.tenants import Role, User
from tests.unit.fakes import Fakes


async def signed_in_user(fakes: Fakes) -> tuple[User, Sessions]:
    _, user = await RegisterUser(fakes.uow, fakes.hasher, fakes.clock)(NewUser("acme", "a@acme.test", "long-pass-1"))
    return user, fakes.sessions


async def test_a_restarted_api_remembers_the_sessions_ended_while_their_tokens_live() -> None:
    fakes = Fakes()
    user, sessions = await signed_in_user(fakes)
    async with fakes.uow as uow:
        old, recent = await sessions.start(uow, user), await sessions.start(uow, user)
        await uow.commit()
    async with fakes.uow as uow:
        await uow.sessions.revoke(user.tenant_id, old.session_id, fakes.clock.now())
        await uow.commit()
    fakes.clock.advance(timedelta(minutes=20))
    async with fakes.uow as uow:
        await uow.sessions.revoke(user.tenant_id, recent.session_id, fakes.clock.now())
        await uow.commit()

    restarted = LocalRevokedSessions(fakes.clock, timedelta(minutes=16))
    fresh = Sessions(fakes.tokens, restarted, fakes.clock)
    assert await RememberRevokedSessions(fakes.uow, fresh, fakes.clock, timedelta(minutes=16))() == 1
    assert await restarted.is_revoked(recent.session_id)
    assert not await restarted.is_revoked(old.session_id), "its tokens expired long ago"


async def test_a_disabled_users_refresh_token_is_refused() -> None:
    fakes = Fakes()
    user, sessions = await signed_in_user(fakes)
    async with fakes.uow as uow:
        signed_in = await sessions.start(uow, user)
        await uow.commit()
    fakes.uow.store.users[user.id] = replace(user, disabled=True)
    refresh = Refresh(fakes.uow, sessions, RecordingTenantScope(), fakes.clock, fakes.auditor)
    with pytest.raises(AuthenticationFailed):
        await refresh(signed_in.refresh_token)


async def test_an_expired_refresh_token_is_refused_and_pruned_with_its_session() -> None:
    fakes = Fakes()
    user, sessions = await signed_in_user(fakes)
    async with fakes.uow as uow:
        signed_in = await sessions.start(uow, user)
        await uow.commit()
    fakes.clock.advance(timedelta(days=31))
    with pytest.raises(AuthenticationFailed):
        await Refresh(fakes.uow, sessions, RecordingTenantScope(), fakes.clock, fakes.auditor)(signed_in.refresh_token)
    assert await PruneSessions(fakes.uow, fakes.clock, timedelta(minutes=16))() == 1
    assert fakes.uow.store.sessions == {}


async def test_an_api_key_has_no_session_to_log_out_of_nor_a_password_to_change() -> None:
    fakes = Fakes()
    user, sessions = await signed_in_user(fakes)
    as_key = Principal(user.id, user.tenant_id, user.role, key_id=new_id())
    with pytest.raises(PermissionDenied):
        await Logout(fakes.uow, sessions, fakes.clock, fakes.auditor)(as_key)
    with pytest.raises(PermissionDenied):
        await ChangePassword(fakes.uow, fakes.hasher, sessions, fakes.auditor)(as_key, "long-pass-1", "another-1-pass")


async def test_a_deleted_users_ended_sessions_are_remembered_after_a_restart() -> None:
    fakes = Fakes()
    user, sessions = await signed_in_user(fakes)
    _, admin = await RegisterUser(fakes.uow, fakes.hasher, fakes.clock)(
        NewUser("acme", "root@acme.test", "long-pass-2", Role.ADMIN)
    )
    async with fakes.uow as uow:
        signed_in = await sessions.start(uow, user)
        await uow.commit()
    as_admin = Principal(admin.id, admin.tenant_id, Role.ADMIN)
    await DeleteUser(fakes.uow, sessions, fakes.auditor)(as_admin, user.id)
    restarted = LocalRevokedSessions(fakes.clock, timedelta(minutes=16))
    await RememberRevokedSessions(
        fakes.uow, Sessions(fakes.tokens, restarted, fakes.clock), fakes.clock, timedelta(minutes=16)
    )()
    assert await restarted.is_revoked(signed_in.session_id)


class Unwritable(LocalRevokedSessions):
    async def revoke(self, session_ids: Sequence[UUID]) -> None:
        raise DependencyUnavailable("the revocation list (Redis) cannot be written")


async def test_when_the_revocation_list_cannot_be_written_nothing_is_revoked_and_asking_again_works() -> None:
    fakes = Fakes()
    user, sessions = await signed_in_user(fakes)
    async with fakes.uow as uow:
        signed_in = await sessions.start(uow, user)
        await uow.commit()
    me = Principal(user.id, user.tenant_id, user.role, session_id=signed_in.session_id)
    broken = Sessions(fakes.tokens, Unwritable(fakes.clock, timedelta(minutes=16)), fakes.clock)
    with pytest.raises(DependencyUnavailable):
        await Logout(fakes.uow, broken, fakes.clock, fakes.auditor)(me, everywhere=True)
    assert fakes.uow.store.sessions[signed_in.session_id].revoked_at is None
    await Logout(fakes.uow, sessions, fakes.clock, fakes.auditor)(me, everywhere=True)
    assert await fakes.revoked.is_revoked(signed_in.session_id)


async def test_a_keys_stream_stops_when_its_user_changes_role() -> None:
    fakes = Fakes()
    user, _ = await signed_in_user(fakes)
    key = ApiKey(
        new_id(), user.tenant_id, user.id, "k", frozenset({Scope.READ}), "d" * 64, "mr_abcd", fakes.clock.now()
    )
    fakes.uow.store.api_keys[key.id] = key
    as_key = Principal(user.id, user.tenant_id, user.role, scopes=key.scopes, key_id=key.id)
    still = StillSignedIn(fakes.uow, fakes.revoked, fakes.clock)
    assert await still(as_key)
    fakes.uow.store.users[user.id] = replace(user, role=Role.MEMBER)
    assert not await still(as_key)
