"""CRM connectors (issue 16 §1): Salesforce and HubSpot pull, push and close-the-loop.

Layout: `models` (connections, field maps, links, runs, record errors, the push outbox),
`credentials` (Fernet at rest), `clients` (the one small interface both vendors implement),
`salesforce` / `hubspot` (the adapters over simple-salesforce and hubspot-api-client),
`mapping` (CRM record -> direct-opportunity fields), `pull` / `push` (the sync services),
`services` (connecting, retry, schedules), `tasks` (Celery). docs/crm.md explains setup.
"""
