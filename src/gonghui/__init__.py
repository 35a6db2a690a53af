"""Gonghui (工会职工服务平台): find workers in hardship and help them."""
