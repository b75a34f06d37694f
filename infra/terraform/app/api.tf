# The REST API's stage (the AWS provider 6 no longer makes one from the deployment) and its
# gateway responses: every error API Gateway itself answers is JSON `{"error": ...}`, like the
# app's own, and names the cause where API Gateway's default text does not.

resource "aws_api_gateway_stage" "api" {
  stage_name    = "api" # .chalice/config.json api_gateway_stage
  rest_api_id   = aws_api_gateway_rest_api.rest_api.id
  deployment_id = aws_api_gateway_deployment.rest_api.id
}

locals {
  gateway_responses = {
    DEFAULT_4XX = {
      status_code = null
      template    = "{\"error\": $context.error.messageString}"
    }
    DEFAULT_5XX = {
      status_code = null
      template    = "{\"error\": $context.error.messageString}"
    }
    MISSING_AUTHENTICATION_TOKEN = {
      status_code = "403"
      template    = "{\"error\": \"no such route or method, or the request is not SigV4-signed (every route needs IAM authorisation); the routes are described at GET /openapi.json\"}"
    }
    ACCESS_DENIED = {
      status_code = "403"
      template    = "{\"error\": \"the caller may not call this route: grant execute-api:Invoke on it\"}"
    }
    INVALID_SIGNATURE = {
      status_code = "403"
      template    = "{\"error\": $context.error.messageString}"
    }
    EXPIRED_TOKEN = {
      status_code = "403"
      template    = "{\"error\": $context.error.messageString}"
    }
    THROTTLED = {
      status_code = "429"
      template    = "{\"error\": \"too many requests: slow down and retry\"}"
    }
  }
}

resource "aws_api_gateway_gateway_response" "json" {
  for_each      = local.gateway_responses
  rest_api_id   = aws_api_gateway_rest_api.rest_api.id
  response_type = each.key
  status_code   = each.value.status_code
  response_parameters = {
    "gatewayresponse.header.Content-Type" = "'application/json'"
  }
  response_templates = {
    "application/json" = each.value.template
  }
}
