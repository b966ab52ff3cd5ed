"""The people of an account: invitations, roles, site grants, deactivation."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.orm import selectinload

from app import tenancy
from app.errors import Forbidden, NotFound, ValidationError
from app.extensions import db
from app.models import Account, Invitation, Site, SiteAccess, User
from app.models.accounts import ROLE_LABELS, ROLES
from app.services import audit
from app.services.accounts.auth import find_user_by_email, normalize_email
from app.services.mail import absolute_url, send_mail
from app.services.accounts.passwords import check_strength, hash_password
from app.services.accounts.tokens import hash_token, new_token
from app.timeutil import utcnow

SITE_SCOPED_ROLES = ("editor", "viewer")


def list_members() -> list[User]:
    """People of the bound account, owners first."""
    order = {role: i for i, role in enumerate(ROLES)}
    users = list(db.session.scalars(select(User).options(selectinload(User.site_grants))))
    return sorted(users, key=lambda u: (not u.active, order.get(u.role, 9), u.email))


def pending_invitations() -> list[Invitation]:
    """Invitations not yet accepted, revoked or expired."""
    rows = db.session.scalars(
        select(Invitation)
        .where(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
        .order_by(Invitation.created_at.desc())
    )
    return [row for row in rows if row.expires_at > utcnow()]


def get_member(user_id: int) -> User:
    """A person of the bound account, or NotFound."""
    user = db.session.scalars(select(User).where(User.id == user_id)).first()
    if user is None:
        raise NotFound("That person is not part of this account.")
    return user


def _check_role(role: str, *, actor_role: str) -> None:
    if role not in ROLES:
        raise ValidationError("Choose a role from the list.", field="role")
    if role == "owner" and actor_role != "owner":
        raise Forbidden("Only an owner can grant the owner role.")


def _visible_site_ids(site_ids: list[int]) -> list[int]:
    wanted = {int(s) for s in site_ids}
    found = set(db.session.scalars(select(Site.id).where(Site.id.in_(wanted)))) if wanted else set()
    if found != wanted:
        raise NotFound("One of those sites does not exist or you do not have access to it.")
    return sorted(found)


def invite(*, email: str, role: str, site_ids: list[int], actor: User, actor_role: str) -> tuple[Invitation, str]:
    """Create an invitation and e-mail its link; returns the invitation and the link."""
    email = normalize_email(email)
    _check_role(role, actor_role=actor_role)
    sites = _visible_site_ids(site_ids) if role in SITE_SCOPED_ROLES else []
    if role in SITE_SCOPED_ROLES and not sites:
        raise ValidationError("Choose at least one site this person may work on.", field="site_ids")
    if find_user_by_email(email) is not None:
        raise ValidationError("That e-mail already has an IGNY8 login.", field="email")
    for old in pending_invitations():
        if old.email == email:
            old.revoked_at = utcnow()
    token, token_hash = new_token()
    invitation = Invitation(email=email, role=role, site_ids=sites, token_hash=token_hash,
                            invited_by_id=actor.id,
                            expires_at=utcnow() + current_app.config["INVITATION_TTL"])
    db.session.add(invitation)
    account = db.session.scalars(select(Account)).one()
    link = absolute_url(f"/invite/{token}")
    send_mail(to=email, subject=f"You are invited to {account.name} on IGNY8",
              body=(f"{actor.name or actor.email} invited you to join {account.name} on IGNY8 "
                    f"as {ROLE_LABELS[role].lower()}.\n\nAccept within 7 days:\n\n{link}\n"))
    audit.record("team.invite", actor_id=actor.id, account_id=account.id, email=email, role=role)
    db.session.commit()
    return invitation, link


def revoke_invitation(*, invitation_id: int) -> None:
    """Withdraw an invitation that has not been accepted."""
    invitation = db.session.scalars(select(Invitation).where(Invitation.id == invitation_id)).first()
    if invitation is None:
        raise NotFound("That invitation does not exist.")
    invitation.revoked_at = utcnow()
    db.session.commit()


def invitation_for_token(token: str) -> tuple[Invitation | None, str | None]:
    """The invitation behind a link (read before any account is bound) and, if unusable, why."""
    invitation = db.session.scalars(
        select(Invitation).where(Invitation.token_hash == hash_token(token or ""))
        .execution_options(all_accounts=True)
    ).first()
    if invitation is None or invitation.revoked_at is not None:
        return None, "This invitation is not valid. Ask the person who invited you for a new one."
    if invitation.accepted_at is not None:
        return invitation, "This invitation has already been accepted. Sign in instead."
    if invitation.expires_at < utcnow():
        return invitation, "This invitation has expired. Ask for a new one."
    return invitation, None


def accept_invitation(*, token: str, name: str, password: str) -> User:
    """Create the invited person's login in the inviting account."""
    invitation, problem = invitation_for_token(token)
    if problem:
        raise ValidationError(problem, field="token")
    name = (name or "").strip()
    if not name:
        raise ValidationError("Tell us your name.", field="name")
    check_strength(password, email=invitation.email)
    if find_user_by_email(invitation.email) is not None:
        raise ValidationError("That e-mail already has an IGNY8 login. Sign in instead.", field="token")
    with tenancy.account_scope(invitation.account_id):
        user = User(account_id=invitation.account_id, email=invitation.email, name=name[:120],
                    password_hash=hash_password(password), role=invitation.role)
        db.session.add(user)
        db.session.flush()
        existing_sites = set(db.session.scalars(select(Site.id).where(Site.id.in_(invitation.site_ids or [0]))))
        for site_id in invitation.site_ids or []:
            if site_id in existing_sites:
                db.session.add(SiteAccess(user_id=user.id, site_id=site_id))
        invitation.accepted_at = utcnow()
        audit.record("team.join", actor_id=user.id, account_id=invitation.account_id)
        db.session.commit()
    return user


def _owner_count() -> int:
    return db.session.scalar(
        select(func.count(User.id)).where(User.role == "owner", User.active.is_(True))
    )


def _guard_last_owner(member: User) -> None:
    if member.role == "owner" and member.active and _owner_count() <= 1:
        raise ValidationError(
            "This is the account's last owner. Make someone else an owner first.", field="role"
        )


def _guard_owner_change(member: User, actor_role: str) -> None:
    if member.role == "owner" and actor_role != "owner":
        raise Forbidden("Only an owner can change another owner.")


def change_role(*, user_id: int, role: str, actor: User, actor_role: str) -> User:
    """Give a person another role; the last owner keeps theirs."""
    member = get_member(user_id)
    _check_role(role, actor_role=actor_role)
    _guard_owner_change(member, actor_role)
    if role != "owner":
        _lock_owners()
        _guard_last_owner(member)
    previous = member.role
    member.role = role
    if role not in SITE_SCOPED_ROLES:
        db.session.execute(delete(SiteAccess).where(SiteAccess.user_id == member.id))
    audit.record("team.role_changed", actor_id=actor.id, account_id=member.account_id,
                 user_id=member.id, before=previous, after=role)
    db.session.commit()
    return member


def _lock_owners() -> None:
    # Serialise owner changes so two admins cannot demote the last two owners at once.
    db.session.scalars(select(Account).with_for_update()).first()


def set_active(*, user_id: int, active: bool, actor: User, actor_role: str) -> User:
    """Deactivate (signing them out) or reactivate a person."""
    member = get_member(user_id)
    _guard_owner_change(member, actor_role)
    if not active:
        if member.id == actor.id:
            raise ValidationError("You cannot deactivate yourself.")
        _lock_owners()
        _guard_last_owner(member)
        member.session_version += 1
    member.active = active
    audit.record("team.deactivated" if not active else "team.reactivated", actor_id=actor.id,
                 account_id=member.account_id, user_id=member.id)
    db.session.commit()
    return member


def set_site_grants(*, user_id: int, site_ids: list[int], actor: User) -> User:
    """Replace the sites an editor or viewer may work on."""
    member = get_member(user_id)
    if member.role not in SITE_SCOPED_ROLES:
        raise ValidationError("Owners and admins already see every site.")
    wanted = set(_visible_site_ids(site_ids))
    current = {grant.site_id: grant for grant in member.site_grants}
    for site_id, grant in current.items():
        if site_id not in wanted:
            db.session.delete(grant)
    for site_id in wanted - set(current):
        db.session.add(SiteAccess(user_id=member.id, site_id=site_id))
    audit.record("team.sites_granted", actor_id=actor.id, account_id=member.account_id,
                 user_id=member.id, site_ids=sorted(wanted))
    db.session.commit()
    return member


def granted_site_ids(member: User) -> set[int]:
    """Sites granted to an editor or viewer."""
    return {grant.site_id for grant in member.site_grants}


def inviting_account_name(invitation: Invitation) -> str:
    """The name of the account an invitation is for (shown before sign-in)."""
    with tenancy.all_accounts():
        account = db.session.get(Account, invitation.account_id)
        return account.name if account else ""
