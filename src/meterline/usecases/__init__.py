"""The use-case layer: every step that spans domains, written once, called by every entry point.

The API's endpoints, the console's pages, the CLI, the jobs and `meterline demo` call these functions; none of them
composes domains itself. A domain service that needs a fact only a later domain knows (has an account billing
history? up to when is it invoiced? what do DRAFT invoices hold?) takes it as a REQUIRED argument with no default,
so a caller that forgets it does not run at all; this layer is where those arguments are supplied.

- accounts.py: removing accounts and customers (archived when they have billing history, D13);
- schedules.py: editing an account's price plan schedule (guarded by what is invoiced, then the drafts re-synced),
  and a price plan migration's entry (the same guard and sync); previews of what a change does to DRAFT invoices
  (the change itself in a savepoint, rolled back);
- plans.py: updating a price plan (which may start a migration); previews of migrations and updates;
- balances.py: the credit and wallet services with the holds of DRAFT invoices;
- events.py: event corrections, never of usage that a finalized invoice holds;
- jobs.py: every job type and its runner, and starting jobs (plan migrations, bill runs).
"""
