"""Issue 21: crashes never become outages, on the source install (`make install`) in a real
systemd: a crash loop (20 kill -9 of the main process within 10 s), a missing Redis password
file and a broken /etc/default/fibcache each leave fibcache.socket listening and the site
answering again by itself. The checks live in Tests/Support/crash_recovery.py (Tests/Package
runs them on the installed .deb)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Support"))
import crash_recovery  # noqa: E402


@pytest.fixture(scope="module")
def installed(box):
    box.sh("make -C /opt/fibcache install BINARY=/opt/fibcache/fibcache", timeout=300)
    return box


def test_twenty_kills_in_ten_seconds_leave_the_site_answering(installed):
    crash_recovery.crash_loop(installed)


def test_a_missing_password_file_serves_uncached(installed):
    crash_recovery.missing_password_file(installed)


def test_a_broken_settings_file_is_retried_until_fixed(installed):
    crash_recovery.broken_settings_file(installed)


def test_crash_records_from_a_local_peer_do_not_restart_it(installed):
    crash_recovery.crash_records_survived(installed)
