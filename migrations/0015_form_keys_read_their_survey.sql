-- A key that submits or enters survey responses has its answers checked against the survey's questions, and a
-- refusal names them: such a key reads the definition, so it now holds surveys:read, which those routes need.
UPDATE "api_keys" SET "scopes" = array_append("scopes", 'surveys:read')
  WHERE ('survey-responses:write' = ANY("scopes") OR 'survey-responses:submit' = ANY("scopes")) AND NOT 'surveys:read' = ANY("scopes");
