from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import and_, bindparam, func, select, text

from meterline.accounts.models import Account, AccountAlias, Alias
from meterline.core.pagination import Page, PageRequest
from meterline.core.prepared import Prepared, columns, from_json, json_rows, load
from meterline.core.repository import OrgRepository
from meterline.customers.models import Customer
from meterline.settings.models import EntitySetting
from meterline.settings.repository import SettingRepository, of_entity_json, settings_of_json

# The account read's statements (GET /accounts/{id}, and entitlement reads), built once and run through the driver
# (core/prepared.py): SQLAlchemy's own work per statement cost more than the lookups.
_WITH_CUSTOMER = Prepared(
    select(*columns(Account), *columns(Customer))
    .join(Customer, Customer.pk == Account.customer_pk)
    .where(Account.org_id == bindparam("org_id"), Account.id == bindparam("account_id"))
)
_ACCOUNT_COLUMNS = len(columns(Account))
_VIEW_COLUMNS = _ACCOUNT_COLUMNS + len(columns(Customer))
# PostgreSQL: the account read in one statement (each statement is a round trip, which cost more than the lookup):
# the account, its customer, and as JSON its aliases effective at `at` and its settings.
_VIEW_POSTGRESQL = Prepared(
    select(
        *columns(Account),
        *columns(Customer),
        json_rows(
            AccountAlias,
            AccountAlias.org_id == Account.org_id,
            AccountAlias.account_pk == Account.pk,
            AccountAlias.effective_from <= bindparam("at"),
            AccountAlias.effective_until > bindparam("at"),
            order_by=[AccountAlias.effective_from, AccountAlias.id],
        ),
        of_entity_json(Account.org_id, "ACCOUNT", Account.id),
    )
    .join(Customer, Customer.pk == Account.customer_pk)
    .where(Account.org_id == bindparam("org_id"), Account.id == bindparam("account_id"))
)
_BY_PK = Prepared(select(*columns(Account)).where(Account.org_id == bindparam("org_id"), Account.pk == bindparam("pk")))
_PK_BY_ID = Prepared(select(Account.pk).where(Account.org_id == bindparam("org_id"), Account.id == bindparam("id")))
_ALIASES_AT = (
    select(AccountAlias)
    .where(
        AccountAlias.org_id == bindparam("org_id"),
        AccountAlias.account_pk.in_(bindparam("pks", expanding=True)),
        AccountAlias.effective_from <= bindparam("at"),
        AccountAlias.effective_until > bindparam("at"),
    )
    .order_by(AccountAlias.effective_from, AccountAlias.id)
)
_ALIASES_OF_ONE_AT = Prepared(
    select(*columns(AccountAlias))
    .where(
        AccountAlias.org_id == bindparam("org_id"),
        AccountAlias.account_pk == bindparam("pk"),
        AccountAlias.effective_from <= bindparam("at"),
        AccountAlias.effective_until > bindparam("at"),
    )
    .order_by(AccountAlias.effective_from, AccountAlias.id)
)


class AccountRepository(OrgRepository):
    def by_id(self, account_id: str) -> Account | None:
        return self.session.scalar(self.scoped(Account).where(Account.id == account_id))

    def with_customer(self, account_id: str) -> tuple[Account, Customer] | None:
        """The account and its customer in one query (the account read's path)."""
        row = _WITH_CUSTOMER.first(self.session, {"org_id": self.org_id, "account_id": account_id})
        return (load(Account, row), load(Customer, row, _ACCOUNT_COLUMNS)) if row is not None else None

    def view_of(
        self, account_id: str, at: datetime
    ) -> tuple[Account, Customer, list[AccountAlias], list[EntitySetting]] | None:
        """The account read: the account, its customer, its aliases effective at `at` and its settings (PostgreSQL:
        one statement; SQLite, where a statement is no round trip: three)."""
        if not self.postgres:
            found = self.with_customer(account_id)
            if found is None:
                return None
            account, customer = found
            aliases = self.aliases_of_many([account.pk], at)[account.pk]
            return (
                account,
                customer,
                aliases,
                SettingRepository(self.session, self.org_id).of_entity("ACCOUNT", account.id),
            )
        row = _VIEW_POSTGRESQL.first(self.session, {"org_id": self.org_id, "account_id": account_id, "at": at})
        if row is None:
            return None
        return (
            load(Account, row),
            load(Customer, row, _ACCOUNT_COLUMNS),
            from_json(AccountAlias, row[_VIEW_COLUMNS]),
            settings_of_json(row[_VIEW_COLUMNS + 1]),
        )

    def read_by_pk(self, pk: str) -> Account | None:
        """The account, for a reader (a prepared statement; an instance that is not in the session)."""
        row = _BY_PK.first(self.session, {"org_id": self.org_id, "pk": pk})
        return load(Account, row) if row is not None else None

    def by_pks(self, pks: set[str]) -> dict[str, Account]:
        if not pks:
            return {}
        return {a.pk: a for a in self.session.scalars(self.scoped(Account).where(Account.pk.in_(pks)))}

    def pks_by_ids(self, ids: set[str]) -> dict[str, str]:
        """Account id -> pk, without loading whole accounts (ingestion's hot path)."""
        if not ids:
            return {}
        if len(ids) == 1:  # one event's account (POST /entitled, /ingest of one event)
            [account_id] = ids
            row = _PK_BY_ID.first(self.session, {"org_id": self.org_id, "id": account_id})
            return {account_id: row[0]} if row is not None else {}
        stmt = select(Account.id, Account.pk).where(Account.org_id == self.org_id, self.among(Account.id, ids))
        return {row[0]: row[1] for row in self.session.execute(stmt)}

    def ids_with_customer_ids(self, pks: set[str]) -> dict[str, tuple[str, str]]:
        """Account pk -> (account id, its customer's id): the entities whose settings enrichments read (ingestion)."""
        if not pks:
            return {}
        postgresql = self.session.get_bind().dialect.name == "postgresql"
        wanted = (
            # (PostgreSQL: an array; a set-returning function in a subquery made a nested loop of 1,000 x 640)
            "= ANY(CAST(:pks AS text[]))" if postgresql else "IN (SELECT value FROM json_each(:pks))"
        )
        ordered = sorted(pks)
        rows = self.session.execute(  # the pks as one parameter, as the settings they lead to
            text(
                "SELECT a.pk, a.id, c.id FROM accounts a JOIN customers c ON c.pk = a.customer_pk "  # noqa: S608  # nosec B608 - constant text
                f"WHERE a.org_id = :org AND a.pk {wanted}"
            ),
            {"org": self.org_id, "pks": ordered if postgresql else json.dumps(ordered)},
        )
        return {row[0]: (row[1], row[2]) for row in rows}

    def alias_spans(self, values: set[str]) -> list[tuple[str, str, datetime, datetime]]:
        """(value, account_pk, effective_from, effective_until) of every alias row with one of these values."""
        if not values:
            return []
        stmt = select(
            AccountAlias.value, AccountAlias.account_pk, AccountAlias.effective_from, AccountAlias.effective_until
        ).where(AccountAlias.org_id == self.org_id, AccountAlias.value.in_(values))
        return [(r[0], r[1], r[2], r[3]) for r in self.session.execute(stmt)]

    def ids_taken(self, ids: set[str]) -> set[str]:
        if not ids:
            return set()
        stmt = select(Account.id).where(Account.org_id == self.org_id, Account.id.in_(ids))
        return set(self.session.scalars(stmt))

    def count_by_customer(self, customer_pks: set[str]) -> dict[str, int]:
        if not customer_pks:
            return {}
        stmt = (
            select(Account.customer_pk, func.count())
            .where(Account.org_id == self.org_id, Account.customer_pk.in_(customer_pks))
            .group_by(Account.customer_pk)
        )
        return {pk: int(n) for pk, n in self.session.execute(stmt)}

    def pks_of_customer_ids(self, customer_ids: set[str]) -> set[str]:
        """The pks of every account of these customers (by the customers' ids): one statement."""
        if not customer_ids:
            return set()
        stmt = (
            select(Account.pk)
            .join(Customer, and_(Customer.pk == Account.customer_pk, Customer.org_id == self.org_id))
            .where(Account.org_id == self.org_id, Customer.id.in_(sorted(customer_ids)))
        )
        return set(self.session.scalars(stmt))

    def of_customer(self, customer_pk: str) -> list[Account]:
        stmt = self.scoped(Account).where(Account.customer_pk == customer_pk)
        return list(self.session.scalars(stmt.order_by(Account.pk)))

    def page(self, request: PageRequest, *, status_not: str | None = None) -> Page[Account]:
        stmt = self.scoped(Account)
        if status_not is not None:
            stmt = stmt.where(Account.status != status_not)
        return self.keyset_page(stmt, Account.pk, request)

    # -- account aliases -------------------------------------------------------------------------------------
    def lock_alias_values(self, values: list[str]) -> None:
        """Serialize writers that check and claim the same alias values (PostgreSQL; SQLite has one writer)."""
        for value in sorted(set(values)):
            self.lock_key("alias", value)

    def lock_account(self, account_pk: str) -> Account | None:
        """The account's row, read again and locked until the transaction ends (None: it was deleted meanwhile):
        writers of what hangs on the account (its aliases, its license quantities) take turns per account."""
        rows = self.lock_rows(Account, [account_pk])
        return rows[0] if rows else None

    def aliases_of(self, account_pk: str) -> list[AccountAlias]:
        stmt = self.scoped(AccountAlias).where(AccountAlias.account_pk == account_pk)
        return list(self.session.scalars(stmt.order_by(AccountAlias.effective_from, AccountAlias.id)))

    def aliases_of_many(self, account_pks: list[str], at: datetime) -> dict[str, list[AccountAlias]]:
        """Aliases effective at `at`, per account."""
        result: dict[str, list[AccountAlias]] = {pk: [] for pk in account_pks}
        if not account_pks:
            return result
        if len(account_pks) == 1:  # an account's read
            params = {"org_id": self.org_id, "pk": account_pks[0], "at": at}
            result[account_pks[0]] = [load(AccountAlias, row) for row in _ALIASES_OF_ONE_AT.all(self.session, params)]
            return result
        params = {"org_id": self.org_id, "pks": account_pks, "at": at}
        for row in self.session.scalars(_ALIASES_AT, params):
            result[row.account_pk].append(row)
        return result

    def overlapping_aliases(self, value: str, start: datetime, end: datetime) -> list[AccountAlias]:
        stmt = self.scoped(AccountAlias).where(
            AccountAlias.value == value,
            AccountAlias.effective_from < end,
            AccountAlias.effective_until > start,
        )
        return list(self.session.scalars(stmt))

    def aliases_ending_after(self, value: str, at: datetime) -> list[AccountAlias]:
        stmt = self.scoped(AccountAlias).where(AccountAlias.value == value, AccountAlias.effective_until > at)
        return list(self.session.scalars(stmt))

    def aliases_ending_after_account(self, account_pk: str, at: datetime) -> list[AccountAlias]:
        stmt = self.scoped(AccountAlias).where(AccountAlias.account_pk == account_pk, AccountAlias.effective_until > at)
        return list(self.session.scalars(stmt))

    def alias_values_ending_after(self, values: set[str], at: datetime) -> set[str]:
        if not values:
            return set()
        stmt = select(AccountAlias.value).where(
            AccountAlias.org_id == self.org_id, AccountAlias.value.in_(values), AccountAlias.effective_until > at
        )
        return set(self.session.scalars(stmt))

    def count_open_aliases(self, account_pk: str, at: datetime) -> int:
        stmt = select(func.count()).where(
            AccountAlias.org_id == self.org_id,
            AccountAlias.account_pk == account_pk,
            AccountAlias.effective_until > at,
        )
        return self.session.scalar(stmt) or 0

    def alias_at(self, value: str, at: datetime) -> AccountAlias | None:
        stmt = self.scoped(AccountAlias).where(
            AccountAlias.value == value, AccountAlias.effective_from <= at, AccountAlias.effective_until > at
        )
        return self.session.scalar(stmt)

    # -- alias registry --------------------------------------------------------------------------------------
    def registry_alias(self, value: str) -> Alias | None:
        return self.session.scalar(self.scoped(Alias).where(Alias.value == value))

    def registry_values(self, values: set[str]) -> set[str]:
        if not values:
            return set()
        stmt = select(Alias.value).where(Alias.org_id == self.org_id, Alias.value.in_(values))
        return set(self.session.scalars(stmt))

    def registry_page(self, request: PageRequest) -> Page[Alias]:
        return self.keyset_page(self.scoped(Alias), Alias.id, request)
