"""What Chalice calls: event handlers glue, the HTTP edge (validation, JSON errors, the dashboard
page and OpenAPI document), the `/view` blueprint, and the JSON Schemas of inbound events."""
