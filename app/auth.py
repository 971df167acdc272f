"""Accounts, passwords, sessions and the role checks every handler makes.

- Passwords are hashed with argon2id (`argon2-cffi`); a wrong username costs the same time as a
  wrong password, so timing does not reveal which accounts exist.
- A session is a signed cookie (`itsdangerous`) holding the account id, an expiry time, a
  fingerprint of the password hash and the account's session epoch. Signing out, disabling the
  account or setting a new password raises the epoch in the database, which ends every session of
  the account for good (re-enabling an account does not bring its old cookies back).
- `LoginLimiter` refuses sign-in for a while after too many wrong passwords for one username from
  one address (longer each time), or from one address whatever the usernames.
- The sign-in form carries a token against cross-site request forgery (a signed double submit): the
  browser holds a random nonce in a cookie of its own, the form a token that signs that nonce; a post
  whose token is missing, forged, older than `LOGIN_FORM_S` or not for the cookie's nonce is refused
  before the password is looked at, so another site cannot sign a visitor in to an account of its own.
- `Actor` is the signed-in account as the handlers see it; `require` raises `AccessDenied` (a
  `ConciergeError`) when the role is wrong.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from sqlmodel import select, update

from backend.settings import Settings, get_settings
from backend.store import session
from backend.tables import ROLES, Account, AuditLog, Client
from catalog.errors import ConciergeError

COOKIE = "concierge_session"
LOGIN_COOKIE = "concierge_login"  # the sign-in form's nonce (see `login_token`)
LOGIN_FORM_S = 2 * 3600  # how long a sign-in form may be posted after it was shown
_NONCE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,62}$")
MIN_PASSWORD = 8
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not-a-real-password")  # verified against when the username is unknown


class AccessDenied(ConciergeError):
    """The signed-in account may not do this (wrong role, or not its data)."""


class NotSignedIn(ConciergeError):
    """No valid session: never signed in, signed out, expired, or the account was changed."""


class FormRefused(ConciergeError):
    """A sign-in post without a valid token of this site's sign-in form (forged, expired, or from elsewhere)."""


@dataclass(frozen=True)
class Actor:
    """The signed-in account, as every handler receives it."""

    id: int
    username: str
    role: str
    client_id: str | None = None

    @classmethod
    def of(cls, account: Account) -> "Actor":
        return cls(account.id, account.username, account.role, account.client_id)


def require(actor: Actor | None, *roles: str) -> Actor:
    """Return `actor` if it has one of `roles`, else raise `AccessDenied` (or `NotSignedIn`)."""
    if actor is None:
        raise NotSignedIn("please sign in first")
    if actor.role not in roles:
        raise AccessDenied(f"this is for {' or '.join(r + 's' for r in roles)} only; you are signed in as "
                           f"{actor.username} ({actor.role})")
    return actor


# --- passwords ---------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_strength(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise ConciergeError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > 256:
        raise ConciergeError("the password is too long (256 characters at most)")
    return password


def new_password() -> str:
    """A random password for generated accounts (shown once)."""
    return secrets.token_urlsafe(12)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# --- accounts ----------------------------------------------------------------------------------

def normalise_username(username: str) -> str:
    name = (username or "").strip().lower()
    if not USERNAME.match(name):
        raise ConciergeError("a username has 2–63 characters: lower-case letters, digits, '.', '_', '-' or '@', "
                             "starting with a letter or digit")
    return name


def create_account(username: str, role: str, password: str, client_id: str | None = None,
                   actor_id: int | None = None) -> Account:
    """Create an account (a client account must name an existing client profile).

    Raises:
        `ConciergeError`: bad username, role, password, duplicate username or unknown client.
    """
    name = normalise_username(username)
    if role not in ROLES:
        raise ConciergeError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    check_password_strength(password)
    client_id = (client_id or "").strip() or None
    if role == "client" and not client_id:
        raise ConciergeError("a client account needs the client id of its profile (e.g. c-0004)")
    if role != "client" and client_id:
        raise ConciergeError("only client accounts are linked to a client profile")
    with session() as s:
        if s.exec(select(Account).where(Account.username == name)).first():
            raise ConciergeError(f"the username {name!r} is taken")
        if client_id:
            if s.get(Client, client_id) is None:
                raise ConciergeError(f"there is no client {client_id!r}")
            if s.exec(select(Account).where(Account.client_id == client_id)).first():
                raise ConciergeError(f"client {client_id!r} already has an account")
        account = Account(username=name, role=role, password_hash=hash_password(password), client_id=client_id)
        s.add(account)
        s.flush()
        s.add(AuditLog(actor_id=actor_id, action="account_create",
                       detail={"username": name, "role": role, "client_id": client_id}))
    return account


def get_account(username: str) -> Account | None:
    with session() as s:
        return s.exec(select(Account).where(Account.username == (username or "").strip().lower())).first()


def set_password(username: str, password: str, actor_id: int | None = None) -> None:
    check_password_strength(password)
    with session() as s:
        account = s.exec(select(Account).where(Account.username == username)).first()
        if account is None:
            raise ConciergeError(f"there is no account {username!r}")
        account.password_hash = hash_password(password)
        account.session_epoch += 1
        s.add(account)
        s.add(AuditLog(actor_id=actor_id, action="account_password_reset", detail={"username": username}))


def set_active(username: str, active: bool, actor_id: int | None = None) -> None:
    with session() as s:
        account = s.exec(select(Account).where(Account.username == username)).first()
        if account is None:
            raise ConciergeError(f"there is no account {username!r}")
        if actor_id is not None and account.id == actor_id and not active:
            raise ConciergeError("you cannot disable your own account")
        account.active = active
        if not active:
            account.session_epoch += 1
        s.add(account)
        s.add(AuditLog(actor_id=actor_id, action="account_enable" if active else "account_disable",
                       detail={"username": username}))


def assign_clients(client_ids: list[str], associate: str, actor_id: int | None = None) -> int:
    """Make `associate` look after these clients. Returns how many were assigned."""
    with session() as s:
        account = s.exec(select(Account).where(Account.username == associate)).first()
        if account is None or account.role != "associate":
            raise ConciergeError(f"{associate!r} is not an associate account")
        n = 0
        for client_id in client_ids:
            client = s.get(Client, client_id)
            if client is None:
                raise ConciergeError(f"there is no client {client_id!r}")
            client.associate_id = account.id
            s.add(client)
            n += 1
        s.add(AuditLog(actor_id=actor_id, action="clients_assign",
                       detail={"associate": associate, "clients": client_ids[:50], "n": n}))
    return n


def seed_demo_accounts() -> list[tuple[str, str, str]] | None:
    """One demo account per role, created once; returns (role, username, password) or None if present.

    The demo associate looks after every client nobody looks after yet; the demo client is the
    first client of the catalogue.
    """
    with session() as s:
        if s.exec(select(Account).where(Account.username.in_(["admin", "associate"]))).first():
            return None
        first = s.exec(select(Client.client_id).order_by(Client.client_id)).first()
    created = []
    for role, name, client_id in (("admin", "admin", None), ("associate", "associate", None),
                                  ("client", "client", first)):
        if role == "client" and client_id is None:
            continue  # no catalogue imported yet: no client profile to link
        password = new_password()
        create_account(name, role, password, client_id=client_id)
        created.append((role, name, password))
    with session() as s:
        unassigned = list(s.exec(select(Client.client_id).where(Client.associate_id.is_(None))).all())
    if unassigned:
        assign_clients(unassigned, "associate")
    return created


# --- sign-in and sessions ----------------------------------------------------------------------

@dataclass
class _Strikes:
    """Wrong passwords of one key: their times inside the window, locks served so far, and the current lock."""

    times: list[float]
    locks: int = 0
    locked_until: float = 0.0
    last: float = 0.0  # the latest failure or lock end: when the entry may be forgotten


class LoginLimiter:
    """Refuses sign-in for a while after wrong passwords, counted per (username, address) and per address.

    - `max_failures` wrong passwords for one username from one address inside `window_s` lock that pair for
      `window_s`; each further lock of the same pair lasts twice as long as the one before, up to
      `MAX_LOCK_FACTOR` windows. Nobody elsewhere can lock an account out for its owner.
    - `4 * max_failures` wrong passwords from one address, whatever the usernames, lock that address for the
      rest of the window.
    - Entries are forgotten `MAX_LOCK_FACTOR` windows after their last failure or lock, and at most
      `max_entries` are kept (the stalest go first), so the table cannot grow without bound.
    """

    MAX_LOCK_FACTOR = 16
    ADDRESS_FACTOR = 4

    def __init__(self, max_failures: int, window_s: float, clock=time.monotonic, max_entries: int = 100_000):
        self.max_failures, self.window_s, self.clock, self.max_entries = max_failures, window_s, clock, max_entries
        self._pairs: dict[tuple[str, str], _Strikes] = {}
        self._addresses: dict[str, _Strikes] = {}
        self._lock = threading.Lock()
        self._pruned = clock()

    def entries(self) -> int:
        """How many keys the table holds now."""
        return len(self._pairs) + len(self._addresses)

    def _recent(self, table: dict, key, now: float) -> _Strikes:
        entry = table.setdefault(key, _Strikes([]))
        entry.times = [t for t in entry.times if now - t < self.window_s]
        return entry

    def _prune(self, now: float) -> None:
        keep_s = self.window_s * self.MAX_LOCK_FACTOR
        if now - self._pruned < min(self.window_s, 60.0) and self.entries() <= self.max_entries:
            return
        self._pruned = now
        for table in (self._pairs, self._addresses):
            for key in [k for k, e in table.items() if now - max(e.last, e.locked_until) > keep_s]:
                del table[key]
            if len(table) > self.max_entries:
                for key in sorted(table, key=lambda k: table[k].last)[:len(table) - self.max_entries]:
                    del table[key]

    def wait_s(self, username: str, address: str) -> float:
        """Seconds until this username may be tried again from this address (0: now)."""
        with self._lock:
            now = self.clock()
            self._prune(now)
            waits = []
            pair = self._pairs.get((username, address))
            if pair is not None:
                waits.append(pair.locked_until - now)
            limit = self.max_failures * self.ADDRESS_FACTOR
            times = self._recent(self._addresses, address, now).times if address in self._addresses else []
            if len(times) >= limit:
                waits.append(self.window_s - (now - times[-limit]))
            return max([0.0, *waits])

    def failed(self, username: str, address: str) -> None:
        with self._lock:
            now = self.clock()
            self._prune(now)
            pair = self._recent(self._pairs, (username, address), now)
            pair.times.append(now)
            if len(pair.times) >= self.max_failures:
                lock_s = min(self.window_s * 2 ** pair.locks, self.window_s * self.MAX_LOCK_FACTOR)
                pair.locks += 1
                pair.locked_until = now + lock_s
                pair.times = []
            pair.last = max(now, pair.locked_until)
            address_entry = self._recent(self._addresses, address, now)
            address_entry.times.append(now)
            address_entry.last = now

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._pairs.pop((username, address), None)


def authenticate(username: str, password: str, address: str, limiter: LoginLimiter) -> Account:
    """The account for these credentials, or `ConciergeError` with a message fit for the login page."""
    name = (username or "").strip().lower()
    if not name or not password:
        raise ConciergeError("enter your username and your password")
    wait = limiter.wait_s(name, address)
    if wait > 0:
        raise ConciergeError(f"too many wrong passwords; try again in {max(int(wait // 60) + 1, 1)} minute(s)")
    account = get_account(name)
    ok = _verify(account.password_hash if account else _DUMMY_HASH, password)
    if not ok or account is None:
        limiter.failed(name, address)
        raise ConciergeError("wrong username or password")
    if not account.active:
        raise ConciergeError("this account is disabled; ask an administrator")
    limiter.succeeded(name, address)
    return account


def secret_key(settings: Settings | None = None) -> str:
    """The signing key: from settings, else created once in var/secret_key."""
    settings = settings or get_settings()
    if settings.secret_key:
        return settings.secret_key
    path = settings.var_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(48))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text().strip()


def _serializer(settings: Settings | None = None) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key(settings), salt="concierge-session")


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:12]


def issue_session(account: Account, settings: Settings | None = None, now: float | None = None) -> str:
    """A signed session token for `account`, valid for `settings.session_hours`."""
    settings = settings or get_settings()
    expires = (now if now is not None else time.time()) + settings.session_hours * 3600
    return _serializer(settings).dumps({"uid": account.id, "exp": int(expires),
                                        "pw": _fingerprint(account.password_hash), "ep": account.session_epoch})


def read_session(token: str | None, settings: Settings | None = None, now: float | None = None) -> Actor:
    """The actor a session token stands for.

    Raises:
        `NotSignedIn`: missing, forged, expired token, signed out, or the account was disabled / its password
        changed since the token was issued.
    """
    if not token:
        raise NotSignedIn("please sign in first")
    try:
        data = _serializer(settings).loads(token)
    except BadSignature:
        raise NotSignedIn("your session is not valid; please sign in again") from None
    if not isinstance(data, dict) or (now if now is not None else time.time()) > data.get("exp", 0):
        raise NotSignedIn("your session has expired; please sign in again")
    with session() as s:
        account = s.get(Account, data.get("uid"))
    if account is None or not account.active or _fingerprint(account.password_hash) != data.get("pw"):
        raise NotSignedIn("your session has ended (the account changed); please sign in again")
    if data.get("ep") != account.session_epoch:
        raise NotSignedIn("your session has ended (signed out); please sign in again")
    return Actor.of(account)


def login_nonce(current: str | None) -> str:
    """The browser's sign-in nonce: the one its cookie already holds (so several open forms all stay valid), or
    a new random one."""
    return current if current and _NONCE.match(current) else secrets.token_urlsafe(32)


def _form_serializer(settings: Settings | None = None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key(settings), salt="concierge-login-form")


def login_token(nonce: str, settings: Settings | None = None) -> str:
    """The token the sign-in form carries: `nonce` signed with the server's key and the time."""
    return _form_serializer(settings).dumps(nonce)


def check_login_token(token: str | None, nonce: str | None, settings: Settings | None = None) -> None:
    """Accept a sign-in post only with a token this server signed for the nonce in the browser's cookie.

    Raises:
        `FormRefused`: no token or no nonce, a forged or expired token, or a token for another nonce.
    """
    refused = FormRefused("this sign-in form has expired or did not come from this site; please sign in again")
    if not token or not nonce or not _NONCE.match(nonce):
        raise refused
    try:
        signed = _form_serializer(settings).loads(token, max_age=LOGIN_FORM_S)
    except BadSignature:  # SignatureExpired included
        raise refused from None
    if not isinstance(signed, str) or not secrets.compare_digest(signed, nonce):
        raise refused


def sign_out(token: str | None, settings: Settings | None = None) -> bool:
    """End the session of `token` on the server: every session of its account stops being accepted.

    Returns:
        `bool`: whether a valid session was ended (False: none, or it had already ended).
    """
    try:
        actor = read_session(token, settings)
    except NotSignedIn:
        return False
    with session() as s:
        s.execute(update(Account).where(Account.id == actor.id).values(session_epoch=Account.session_epoch + 1))
    return True
