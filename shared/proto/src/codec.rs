//! The codec of every generated client and server: prost's, with two changes
//! for requests. A request is checked against the conventions every Aimaq
//! request keeps ([`crate::bounds`]) before it is decoded; and a body that does
//! not decode is the sender's mistake (INVALID_ARGUMENT), where tonic would
//! answer INTERNAL and so blame the server.

use std::marker::PhantomData;

use aimaq_error::Error;
use bytes::Buf;
use prost::{Message, Name};
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::{Code, Status};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

pub struct ProtoCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for ProtoCodec<T, U> {
    fn default() -> Self {
        ProtoCodec(PhantomData)
    }
}

impl<T, U> Codec for ProtoCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Name + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = CheckedDecoder<U>;

    fn encoder(&mut self) -> ProstEncoder<T> {
        ProstCodec::<T, U>::default().encoder()
    }

    fn decoder(&mut self) -> CheckedDecoder<U> {
        CheckedDecoder(ProstCodec::<T, U>::default().decoder())
    }
}

pub struct CheckedDecoder<U>(ProstDecoder<U>);

impl<U: Message + Name + Default> Decoder for CheckedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        // Servers decode requests, clients responses: only requests are the
        // caller's to get right.
        if !U::NAME.ends_with("Request") {
            return self.0.decode(src);
        }
        let length = src.remaining();
        let violations = crate::bounds::check_request(&U::full_name(), &src.chunk()[..length]);
        if !violations.is_empty() {
            return Err(Error::InvalidArgument(violations).into_status());
        }
        self.0.decode(src).map_err(|status| match status.code() {
            Code::Internal => Status::invalid_argument(format!(
                "the request is not a valid {} message: {}",
                U::NAME,
                status.message()
            )),
            _ => status,
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}
