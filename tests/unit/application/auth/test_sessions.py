"""Sessions on the fakes: the revocation list refilled after a restart, refresh refused for a disabled user,
pruning, and what an API key may not do with a session's routes."""

from dataclasses import replace
from datetime import timedelta

import pytest

from adapters.auth.revocations import LocalRevokedSessions
from adapters.memory.tenant_scope import RecordingTenantScope
from application.auth.sessions import Logout, PruneSessions, Refresh, RememberRevokedSessions, Sessions
from application.users.admin import ChangePassword
from application.users.register import NewUser, RegisterUser
from domain.auth import Principal
from domain.errors import AuthenticationFailed, PermissionDenied
from domain.ids import new_id
from domain.tenants import User
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
    assert await PruneSessions(fakes.uow, fakes.clock)() == 1
    assert fakes.uow.store.sessions == {}


async def test_an_api_key_has_no_session_to_log_out_of_nor_a_password_to_change() -> None:
    fakes = Fakes()
    user, sessions = await signed_in_user(fakes)
    as_key = Principal(user.id, user.tenant_id, user.role, key_id=new_id())
    with pytest.raises(PermissionDenied):
        await Logout(fakes.uow, sessions, fakes.clock, fakes.auditor)(as_key)
    with pytest.raises(PermissionDenied):
        await ChangePassword(fakes.uow, fakes.hasher, sessions, fakes.auditor)(as_key, "long-pass-1", "another-1-pass")
