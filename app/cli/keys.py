"""``tiller keys``: API keys for ``tiller serve`` (shown once, stored hashed)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli._common import container, err, handle_errors, out, print_json, safe

app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


@app.command()
@handle_errors
def create(
    role: Annotated[str, typer.Option(help="viewer (reads), trader (runs, approvals) or admin.")],
    name: Annotated[str, typer.Option(help="Who or what uses the key.")] = "default",
    json_: JsonOpt = False,
) -> None:
    """Create a key and print it once: it is stored only as its SHA-256."""
    from app.services.keys import KeyRequest, create_key

    created = create_key(container(), KeyRequest(name=name, role=role))
    if json_:
        print_json(created.model_dump(mode="json"))
        return
    err.print(f"created {created.role} key {created.id} ({safe(created.name)}); it is shown "
              "only now, so keep it:", highlight=False)  # fmt: skip
    out.print(created.key, highlight=False, soft_wrap=True)


@app.command("list")
@handle_errors
def list_(json_: JsonOpt = False) -> None:
    """Every key (never the key itself), revoked ones included."""
    from app.services.keys import KeyList, list_keys

    keys = list_keys(container())
    if json_:
        print_json(KeyList(keys=keys).model_dump(mode="json"))
        return
    if not keys:
        out.print("no API keys: `tiller keys create --role viewer --name NAME` makes one")
    for k in keys:
        revoked = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        out.print(f"{k.id}  {k.role:<7} {revoked:<24} {k.created_at:%Y-%m-%d %H:%M}  "
                  f"{safe(k.name, one_line=True)}", highlight=False)  # fmt: skip


@app.command()
@handle_errors
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `tiller keys list`).")],
    json_: JsonOpt = False,
) -> None:
    """Revoke a key: its next request is refused (401)."""
    from app.services.keys import revoke_key

    info = revoke_key(container(), key_id)
    if json_:
        print_json(info.model_dump(mode="json"))
        return
    out.print(f"revoked {info.id} ({safe(info.name)})", highlight=False)
