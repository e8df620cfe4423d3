"""factory_boy factories for the portal's models."""

import factory

from tenants.models import Tenant, TenantDomain


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"customer{n}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    client_id = factory.Sequence(lambda n: f"clientId{n:012d}")
    client_secret = factory.Sequence(lambda n: f"clientSecret{n:020d}")
    secret_token = factory.Sequence(lambda n: f"secretToken{n:021d}")
    primary_domain = factory.RelatedFactory(
        "tests.factories.TenantDomainFactory", factory_related_name="tenant",
        domain=factory.LazyAttribute(lambda o: f"{o.factory_parent.slug}.portal.test"),
        is_primary=True)


class TenantDomainFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TenantDomain

    tenant = factory.SubFactory(TenantFactory, primary_domain=None)
    domain = factory.Sequence(lambda n: f"host{n}.portal.test")
