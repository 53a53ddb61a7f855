"""The admin, all of it: a data browser over the chain's copy.

Django's autodiscover imports this package; importing the registration modules here registers
every table. `base`, `display`, `paging`, `search` and `export` are what the tables share,
`dashboard` is the home page.
"""

from ajo.admin import access, contributions, groups, sync  # noqa: F401
