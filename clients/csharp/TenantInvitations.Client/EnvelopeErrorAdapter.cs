using Microsoft.Kiota.Abstractions;
using Microsoft.Kiota.Abstractions.Serialization;
using Microsoft.Kiota.Abstractions.Store;

namespace TenantInvitations.Client;

// Sits between the generated request builders and Kiota's HttpClientRequestAdapter. The generated error mapping names
// ErrorEnvelope for the statuses the document lists; this replaces it with one mapping for every status ("XXX") to
// TenantInvitationsException, which reads the envelope itself, and turns what Kiota raises without a body into the same type.
internal sealed class EnvelopeErrorAdapter(IRequestAdapter inner) : IRequestAdapter
{
    private static readonly Dictionary<string, ParsableFactory<IParsable>> Errors = new()
    {
        ["XXX"] = TenantInvitationsException.CreateFromDiscriminatorValue,
    };

    public ISerializationWriterFactory SerializationWriterFactory => inner.SerializationWriterFactory;

    public string? BaseUrl { get => inner.BaseUrl; set => inner.BaseUrl = value; }

    public void EnableBackingStore(IBackingStoreFactory backingStoreFactory) => inner.EnableBackingStore(backingStoreFactory);

    public Task<T?> ConvertToNativeRequestAsync<T>(RequestInformation requestInfo, CancellationToken cancellationToken = default) =>
        inner.ConvertToNativeRequestAsync<T>(requestInfo, cancellationToken);

    public Task<ModelType?> SendAsync<ModelType>(RequestInformation requestInfo, ParsableFactory<ModelType> factory,
        Dictionary<string, ParsableFactory<IParsable>>? errorMapping = null, CancellationToken cancellationToken = default)
        where ModelType : IParsable =>
        Translate(() => inner.SendAsync(requestInfo, factory, Errors, cancellationToken));

    public Task<IEnumerable<ModelType>?> SendCollectionAsync<ModelType>(RequestInformation requestInfo, ParsableFactory<ModelType> factory,
        Dictionary<string, ParsableFactory<IParsable>>? errorMapping = null, CancellationToken cancellationToken = default)
        where ModelType : IParsable =>
        Translate(() => inner.SendCollectionAsync(requestInfo, factory, Errors, cancellationToken));

    public Task<ModelType?> SendPrimitiveAsync<ModelType>(RequestInformation requestInfo,
        Dictionary<string, ParsableFactory<IParsable>>? errorMapping = null, CancellationToken cancellationToken = default) =>
        Translate(() => inner.SendPrimitiveAsync<ModelType>(requestInfo, Errors, cancellationToken));

    public Task<IEnumerable<ModelType>?> SendPrimitiveCollectionAsync<ModelType>(RequestInformation requestInfo,
        Dictionary<string, ParsableFactory<IParsable>>? errorMapping = null, CancellationToken cancellationToken = default) =>
        Translate(() => inner.SendPrimitiveCollectionAsync<ModelType>(requestInfo, Errors, cancellationToken));

    public Task SendNoContentAsync(RequestInformation requestInfo,
        Dictionary<string, ParsableFactory<IParsable>>? errorMapping = null, CancellationToken cancellationToken = default) =>
        Translate(async () => { await inner.SendNoContentAsync(requestInfo, Errors, cancellationToken).ConfigureAwait(false); return true; });

    private static async Task<T> Translate<T>(Func<Task<T>> send)
    {
        try
        {
            return await send().ConfigureAwait(false);
        }
        catch (ApiException e) when (e is not TenantInvitationsException)
        {
            throw TenantInvitationsException.WithoutEnvelope(e);
        }
    }
}
