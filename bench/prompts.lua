-- wrk script: the embed's page-view decision (POST /e/v1/decide) for a random visitor on a random page.
-- CANDOR_VISITORS names a file of visitor ids (one per line); CANDOR_PK is the publishable key and
-- CANDOR_ORIGIN an origin on its allow-list. The mix: product pages (a prompt is chosen, so the person's
-- profile is read), the front page (no prompt: the watch list), and a scroll signal on the front page.
local visitors = {}
for line in io.lines(os.getenv("CANDOR_VISITORS")) do visitors[#visitors + 1] = line end
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("CANDOR_PK"),
                  ["Origin"] = os.getenv("CANDOR_ORIGIN") }
local pages = {
  '"url":"https://shop.example/product/ridge?colour=red"',
  '"url":"https://shop.example/"',
  '"url":"https://shop.example/","scroll":60',
}

request = function()
  local visitor = visitors[math.random(#visitors)]
  local body = '{"visitor":"' .. visitor .. '",' .. pages[math.random(#pages)] .. ',"locale":"en"}'
  return wrk.format("POST", "/e/v1/decide", headers, body)
end
