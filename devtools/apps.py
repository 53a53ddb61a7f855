from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    """Development tools: the local anvil runner, deploy, simulate, the demo login and the
    pytest plugin. No models, URLs or signals: being installed adds only the commands
    deploy_contracts, simulate_chain and demo_admin.

    Installed in every configuration, not only with DEBUG: the demo and the compose `dev`
    profile run these commands with production settings (DEBUG off), and tying them to DEBUG
    would make a dev chain need debug pages. What keeps them apart from production is the
    import direction (ajo, groups and contributions never import devtools), which
    import-linter checks. Against a production node the chain commands refuse on their own:
    deploy_contracts needs an unlocked account and simulate_chain anvil's methods. demo_admin
    writes only what `createsuperuser` could, to whoever can already run manage.py.
    """

    name = "devtools"
    label = "devtools"
    verbose_name = "Development tools"
