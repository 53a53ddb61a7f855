import factory
from factory.django import DjangoModelFactory

from groups.models import Group, Membership, Token, User


def _address(n: int) -> str:
    return "0x" + f"{n:040x}"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["address"]

    address = factory.Sequence(lambda n: _address(0xA000 + n))
    username = factory.SelfAttribute("address")
    password = "!"


class StaffFactory(DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"staff{n}")
    address = None
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")


class TokenFactory(DjangoModelFactory):
    class Meta:
        model = Token
        django_get_or_create = ["address"]

    address = factory.Sequence(lambda n: _address(0xB000 + n))
    symbol = "TUSD"
    name = "Test USD"
    decimals = 6
    metadata_fetched = True


class GroupFactory(DjangoModelFactory):
    class Meta:
        model = Group

    id = factory.Sequence(lambda n: n + 1)
    name = factory.Sequence(lambda n: f"Circle {n + 1}")
    token = factory.SubFactory(TokenFactory)
    creator = factory.SubFactory(UserFactory)
    contribution_amount = 50_000_000
    frequency = 7 * 24 * 3600
    max_members = 5


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    group = factory.SubFactory(GroupFactory)
    user = factory.SubFactory(UserFactory)
    position = factory.Sequence(lambda n: n % 1000)
