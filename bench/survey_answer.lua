-- wrk script: POST one survey answer for a random demo subject per request.
-- CANDOR_IDS names a file of subject ids (one per line); CANDOR_KEY is a secret key with the write role;
-- CANDOR_SURVEY is a published survey whose first question asks `interests` and has a second question,
-- so re-answering the first one (as "Back" does) is always allowed and every request is a real answer:
-- a declaration through the write path (projection, ledger, audit, outbox) plus the progress row.
local ids = {}
for line in io.lines(os.getenv("CANDOR_IDS")) do ids[#ids + 1] = line end
local survey = os.getenv("CANDOR_SURVEY")
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("CANDOR_KEY") }
local sports = { "running", "yoga", "cycling", "hiking", "swimming", "tennis", "climbing" }

request = function()
  local id = ids[math.random(#ids)]
  local body = '{"question":"sport","value":["' .. sports[math.random(#sports)] .. '"]}'
  return wrk.format("POST", "/v1/surveys/" .. survey .. "/responses/" .. id .. "/answers", headers, body)
end
