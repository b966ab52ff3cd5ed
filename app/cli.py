"""Flask CLI commands."""

from __future__ import annotations

import click
from flask import Flask

from app import tenancy
from app.errors import DomainError


def register_cli(app: Flask) -> None:
    """Add the IGNY8 commands to `flask`."""

    @app.cli.command("seed-reference")
    def seed_reference():
        """Load industries, sectors, seed keywords and default plans (idempotent)."""
        from app.services.reference import load_reference_data

        with tenancy.all_accounts():
            added = load_reference_data()
        click.echo("Reference data: " + ", ".join(f"{v} {k}" for k, v in added.items()) + " added")

    @app.cli.command("seed-demo")
    def seed_demo_command():
        """Create the demo account and a demo operator (idempotent)."""
        from app.services.demo import seed_demo

        info = seed_demo()
        click.echo(f"Demo login:     {info['email']} / {info['password']}")
        click.echo(f"Operator login: {info['operator_email']} / {info['operator_password']}")

    @app.cli.command("create-operator")
    @click.option("--email", prompt=True)
    @click.option("--name", default="Operator")
    @click.password_option()
    def create_operator_command(email: str, name: str, password: str):
        """Create a platform operator login."""
        from app.services.operator import create_operator

        try:
            user = create_operator(email=email, password=password, name=name)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"Operator {user.email} created.")

    @app.cli.command("reap-jobs")
    def reap_jobs_command():
        """Fail jobs whose worker vanished."""
        from app.services.jobs import reap_stale_jobs

        click.echo(f"{reap_stale_jobs()} job(s) reaped")
