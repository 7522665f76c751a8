def test_admin_creates_customer_with_seed_shape(client, auth):
    customer = auth.create_customer()
    assert customer["email"] == "john.smith@example.com"
    assert [link["rel"] for link in customer["links"]] == ["customerGrid", "edit"]
