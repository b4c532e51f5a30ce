"""Phone numbers through the front door: read in the customer's own country, extensions kept,
and a CRM-wide ``default_region`` checked when the CRM is built; on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmkit import CRM, ContactPoint, Customer, CustomerId, PhoneNumber, PostalAddress, Settings
from crmkit.domain._iso import COUNTRIES
from crmkit.errors import ValidationError
from crmkit.segments import field
from tests.conftest import MakeCrm, crm_maker

T0 = datetime(2024, 1, 1, tzinfo=UTC)
PARIS = PostalAddress("FR", city="Paris")
BERLIN = PostalAddress("DE", city="Berlin")


@pytest.fixture
def make_crm(any_store: object) -> MakeCrm:
    """CRMs whose default region is Germany, on each backend in turn."""
    return crm_maker(any_store, T0, default_region="DE")


@pytest.fixture
def crm(make_crm: MakeCrm) -> CRM:
    return make_crm()


class TestNationalNumbersAreReadInTheCustomersCountry:
    def test_a_french_customers_national_number_is_read_as_french(self, crm: CRM) -> None:
        """``01 42 68 53 00`` with a Paris address is +33…, not refused as German."""
        ada = crm.customers.register(phone="01 42 68 53 00", address=PARIS)
        assert crm.customers.get(ada.id).phone == PhoneNumber("+33142685300")

    def test_without_an_address_the_default_region_applies(self, crm: CRM) -> None:
        """No address: the CRM's ``default_region`` reads the number."""
        ada = crm.customers.register(phone="030 12345678")
        assert crm.customers.get(ada.id).phone == PhoneNumber("+493012345678")

    def test_a_phone_update_reads_in_the_stored_address_country(self, crm: CRM) -> None:
        """The customer's address, as stored, decides how a new national number is read."""
        ada = crm.customers.register(address=PARIS)
        crm.customers.update(ada.id, phone="01 42 68 53 00")
        assert crm.customers.get(ada.id).phone == PhoneNumber("+33142685300")

    def test_a_phone_and_address_changed_together_use_the_new_country(self, crm: CRM) -> None:
        """Moving to Paris and giving a Paris number in one update reads it as French."""
        ada = crm.customers.register(address=BERLIN)
        crm.customers.update(ada.id, phone="01 42 68 53 00", address=PARIS)
        assert crm.customers.get(ada.id).phone == PhoneNumber("+33142685300")

    def test_removing_the_address_with_a_new_phone_uses_the_default(self, crm: CRM) -> None:
        """Without an address after the change, the ``default_region`` reads the number."""
        ada = crm.customers.register(address=PARIS)
        crm.customers.update(ada.id, phone="030 12345678", address=None)
        assert crm.customers.get(ada.id).phone == PhoneNumber("+493012345678")

    def test_a_stored_number_stays_when_the_address_changes_later(self, crm: CRM) -> None:
        """The number was read once, as +33…; moving to Berlin does not re-read it."""
        ada = crm.customers.register(phone="01 42 68 53 00", address=PARIS)
        crm.customers.update(ada.id, address=BERLIN)
        assert crm.customers.get(ada.id).phone == PhoneNumber("+33142685300")

    def test_an_international_number_ignores_the_address(self, crm: CRM) -> None:
        """A ``+`` number carries its own country, whatever the address says."""
        ada = crm.customers.register(phone="+49 30 12345678", address=PARIS)
        assert crm.customers.get(ada.id).phone == PhoneNumber("+493012345678")

    def test_a_number_invalid_in_the_address_country_is_refused(self, crm: CRM) -> None:
        """A German national number is not a French one: refused, naming ``phone``."""
        with pytest.raises(ValidationError) as caught:
            crm.customers.register(phone="030 12345678", address=PARIS)
        assert caught.value.paths == ("phone",)


class TestExtensionsAreKept:
    def test_an_extension_survives_storage(self, crm: CRM) -> None:
        """``ext. 5`` is stored beside the E.164 number and read back."""
        ada = crm.customers.register(phone="+49 30 12345678 ext. 5")
        stored = crm.customers.get(ada.id).phone
        assert stored == PhoneNumber("+493012345678", "5")
        assert str(stored) == "+493012345678;ext=5"

    def test_a_segment_on_phone_compares_the_e164_part(self, crm: CRM) -> None:
        """A rule on ``phone`` finds a number with an extension by its E.164 form, in memory
        and in SQL alike."""
        crm.customers.register(phone="+49 30 12345678 ext. 5")
        crm.customers.register(phone="+49 30 12345679")
        assert crm.segments.count(field("phone") == "+493012345678") == 1
        assert crm.segments.count(field("phone").starts_with("+4930")) == 2

    def test_an_extension_can_be_removed(self, crm: CRM) -> None:
        """A new number without an extension replaces one with it."""
        ada = crm.customers.register(phone="+49 30 12345678 ext. 5")
        crm.customers.update(ada.id, phone="+49 30 12345678")
        assert crm.customers.get(ada.id).phone == PhoneNumber("+493012345678")

    def test_bulk_imports_and_other_contacts_keep_extensions(self, crm: CRM) -> None:
        """The bulk path and further contact points store the extension too."""
        desk = PhoneNumber("+493012345678", "17")
        imported = Customer.register(
            CustomerId("c-1"), at=T0, phone=desk, other_contacts=[ContactPoint(desk, "work")]
        )
        crm.customers.import_many([imported])
        stored = crm.customers.get("c-1")
        assert stored.phone == desk
        assert stored.other_contacts[0].value == desk


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_national_example_number_is_stored_as_parsed_in_its_region(data: st.DataObject) -> None:
    """For any region's example number written nationally, registering a customer with an
    address in that country stores what parsing it in that region gives."""
    regions = sorted(r for r in phonenumbers.SUPPORTED_REGIONS if r in COUNTRIES)
    region = data.draw(st.sampled_from(regions))
    example = phonenumbers.example_number(region)
    assert example is not None
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    crm = CRM.in_memory(Settings(default_region=data.draw(st.sampled_from(["DE", "US", "JP"]))))
    customer = crm.customers.register(phone=national, address=PostalAddress(region))
    assert crm.customers.get(customer.id).phone == PhoneNumber.parse(national, region)


class TestDefaultRegionIsCheckedWhenBuilt:
    @pytest.mark.parametrize("region", ["Germany", "DEU", "", "XX", 49])
    def test_in_memory_refuses_a_region_that_is_no_country(self, region: object) -> None:
        """``"Germany"`` is refused at once, naming ``default_region``."""
        with pytest.raises(ValidationError) as caught:
            CRM.in_memory(Settings(default_region=region))  # type: ignore[arg-type]
        assert caught.value.paths == ("default_region",)

    def test_sqlite_refuses_it_before_creating_the_file(self, tmp_path: Path) -> None:
        """No database file is left behind by a CRM that could not be built."""
        path = tmp_path / "crm.db"
        with pytest.raises(ValidationError) as caught:
            CRM.sqlite(path, Settings(default_region="Germany"))
        assert caught.value.paths == ("default_region",)
        assert not path.exists()

    def test_from_url_refuses_it(self, tmp_path: Path) -> None:
        """The same check holds for a database URL."""
        path = tmp_path / "crm.db"
        with pytest.raises(ValidationError) as caught:
            CRM.from_url(f"sqlite:///{path}", Settings(default_region="Germany"))
        assert caught.value.paths == ("default_region",)
        assert not path.exists()

    def test_a_lower_case_code_is_the_country(self) -> None:
        """``"fr"`` means France, as in a postal address; another tenant keeps it."""
        crm = CRM.in_memory(Settings(default_region="fr"))
        assert crm.settings.default_region == "FR"
        other = crm.for_tenant("beta")
        assert other.settings.default_region == "FR"
        ada = other.customers.register(phone="01 42 68 53 00")
        assert ada.phone == PhoneNumber("+33142685300")


class TestMigration0006:
    def test_going_back_below_it_keeps_every_extension(self, sql_url: str) -> None:
        """Revision 0005 cannot hold an extension: going back is refused while one is
        stored, and allowed (then forward again) once none is."""
        from alembic import command

        from crmkit.adapters.sqlalchemy import SqlStore, current_revision, open_engine, upgrade
        from crmkit.adapters.sqlalchemy.engine import connect
        from crmkit.adapters.sqlalchemy.migrate import alembic_config
        from crmkit.errors import ConfigurationError
        from crmkit.testing.databases import drop_crmkit_tables

        engine = open_engine(sql_url)
        try:
            drop_crmkit_tables(engine)
            upgrade(engine)
            crm = CRM(SqlStore(engine), Settings(default_region="DE"))
            ada = crm.customers.register(phone="+49 30 12345678 ext. 5")

            def downgrade(to: str) -> None:
                with connect(engine) as connection, connection.begin():
                    command.downgrade(alembic_config(connection), to)

            # One revision at a time: MariaDB commits each schema change at once, so a
            # multi-revision downgrade refused half-way would leave 0007's columns dropped.
            downgrade("0006")
            with pytest.raises(ConfigurationError, match="1 customers have a phone extension"):
                downgrade("0005")
            assert current_revision(engine) == "0006"
            upgrade(engine)
            crm.customers.update(ada.id, phone="+49 30 12345678")
            downgrade("0006")
            downgrade("0005")
            assert current_revision(engine) == "0005"
            upgrade(engine)
            assert crm.customers.get(ada.id).phone == PhoneNumber("+493012345678")
        finally:
            drop_crmkit_tables(engine)
            engine.dispose()
