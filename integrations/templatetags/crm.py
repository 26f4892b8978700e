"""{% crm_record_links registration %}: the registration's records in the connected CRMs, for
the manager's registration page (deals cannot import integrations: templates name the tag,
Python doesn't)."""

from django import template

register = template.Library()


@register.inclusion_tag("integrations/_crm_links.html")
def crm_record_links(registration):
    from integrations.crm.models import CrmLink
    from integrations.crm.services import crm_link_url

    links = list(
        CrmLink.objects.filter(registration_id=registration.pk).select_related("connection")
    )
    return {"links": [(link, crm_link_url(link)) for link in links]}
