using OpenIddict.Abstractions;
var m = new OpenIddictRequest();
foreach (var p in new[]{"auth_req_id","device_code","user_code","code","refresh_token","client_secret","client_assertion","subject_token","actor_token","login_hint_token","id_token_hint","token","code_verifier","request","dpop","login_hint","binding_message","assertion","access_token","password","state","nonce"})
  m.SetParameter(p, "SECRET-" + p);
Console.WriteLine(m.ToString());
