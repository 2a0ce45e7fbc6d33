"""The demo township (`flask demo`, scripts/demo.sh): generators of units, users, households,
the approval chain and a year of life events. They go through the domain (app.domain) like
any user would, and are kept apart from it: none of the rules of the work live here."""
