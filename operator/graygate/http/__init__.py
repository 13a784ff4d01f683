"""HTTP for the adapters that speak it: one client (`client`, the only importer of aiohttp) and one JSON POST with
retries (`json_post`), below both the gates and the notifiers, which are independent siblings."""
