def test_login_and_home(client, auth):
    response = auth.login()
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    assert "题库" in page.get_data(as_text=True)
