"""`tiller chat`: the server it starts listens on loopback only, headless, and sends no
usage statistics; a bad port is refused before anything starts."""

from __future__ import annotations

from typer.testing import CliRunner

from app.cli import app
from app.cli.chat import MAIN, streamlit_command


def test_the_chat_server_binds_loopback_headless_without_usage_statistics() -> None:
    command = streamlit_command(8765)
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert command[1:5] == ["-m", "streamlit", "run", str(MAIN)] and MAIN.is_file()
    assert options["--server.address"] == "127.0.0.1"
    assert options["--server.port"] == "8765"
    assert options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"


def test_a_port_out_of_range_is_refused_with_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["chat", "--port", "70000"])
    assert result.exit_code == 2 and "65535" in result.output
