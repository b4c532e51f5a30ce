"""Values: typed ids, money, contact points, texts and timestamps."""
