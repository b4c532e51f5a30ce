"""Analytics over the domain's histories (stage durations, flows and funnels)."""
